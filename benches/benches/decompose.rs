//! Decomposition throughput: one criterion group per format (`tar`, `tar.gz`, `tar.bz2`, `zip`, `tar.xz`), each
//! walking the whole archive in memory (`decompose_bytes`, `prefer_mem`) under limits that cut nothing.
//!
//! criterion's throughput is MB/s (10^6 bytes) of what a one-level decompressor would write (the tar, or the
//! members of a zip or plain tar: `Format::output_bytes`), so the figures compare with
//! `benches/decompress-peers.sh`. The walk does more than that (it also splits the tar into members, each
//! copied into its own buffer); `Report::bytes_extracted` counts both levels and is checked once before
//! measuring. The closing summary gives each group's MB/s of input (the archive) and of output.
//!
//! `BENCH_MB=20 cargo bench -p benches` for a quick run; inputs are generated once and cached under
//! `target/bench-inputs/`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group};
use decomposer::{Decomposer, Part};

/// A decomposer whose limits cut nothing (`benches::scan_corpus::limits_that_cut_nothing`), children in RAM.
fn decomposer() -> Decomposer {
    Decomposer::builder().limits(benches::scan_corpus::limits_that_cut_nothing()).prefer_mem(true).build()
}

/// Walks `bytes`; the sink reads one byte per 4 KiB of every part so that the bytes are really there.
fn walk(decomposer: &Decomposer, name: &str, bytes: &[u8]) -> (decomposer::Report, u64) {
    let mut touched = 0u64;
    let mut sink = |part: &Part<'_>| {
        if let Some(bytes) = part.bytes() {
            touched = bytes.iter().step_by(4096).fold(touched, |sum, &b| sum.wrapping_add(u64::from(b)));
        }
        true
    };
    let report = decomposer.decompose_bytes(name, bytes, &mut sink);
    (report, touched)
}

fn decompose(c: &mut Criterion) {
    let mb = benches::bench_mb();
    let inputs = benches::ensure_inputs(&benches::default_dir(mb), mb)
        .expect("benchmark inputs can be generated under target/bench-inputs");
    let decomposer = decomposer();
    for format in &inputs.formats {
        let bytes = std::fs::read(&format.path).expect("a generated input can be read");
        let name = format!("data.{}", format.name);
        // Once before measuring: nothing may be cut or reported, or the figures would mean nothing.
        let (report, _) = walk(&decomposer, &name, &bytes);
        assert!(report.codes.is_empty(), "{name}: {:?}", report.problems);
        assert_eq!(report.bytes_extracted, format.all_levels_bytes, "{name}");
        assert_eq!(report.files_extracted, format.files_extracted(inputs.members), "{name}");

        let group_name = format!("decompose/{}", format.name);
        let function = format!("{mb}MB_prefer_mem");
        benches::summary::record(&group_name, &function, format.compressed_bytes, format.output_bytes);
        let mut group = c.benchmark_group(group_name);
        group
            .sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(8))
            .throughput(Throughput::BytesDecimal(format.output_bytes));
        group.bench_function(function, |b| {
            b.iter(|| black_box(walk(&decomposer, &name, black_box(&bytes)).1));
        });
        group.finish();
    }
}

criterion_group!(benches, decompose);

fn main() {
    let started = std::time::SystemTime::now();
    benches();
    criterion::Criterion::default().configure_from_args().final_summary();
    benches::summary::print("decomposition, MB/s of the archive read and of the output written:", started);
}
